"""Waiting for a finished run's history (app/cli/recorded.py): the CLI's
--wait and `esper up`'s growth line read seeds only once the history holds the
run's terminal state packet."""

from app.cli.recorded import wait_recorded


def test_waits_until_a_terminal_state_is_recorded() -> None:
    pages = [[], ["running"], ["running", "paused"], ["running", "completed"]]
    polls: list[list[str]] = []

    def states() -> list[str]:
        polls.append(pages[min(len(polls), len(pages) - 1)])
        return polls[-1]

    assert wait_recorded(states, timeout_s=5, poll_s=0.001)
    assert len(polls) == 4  # stopped at the first page with the run's end


def test_gives_up_after_its_timeout() -> None:
    polls = []

    def states() -> list[str]:
        polls.append(1)
        return ["running"]  # e.g. a gateway whose persister is down

    assert not wait_recorded(states, timeout_s=0.05, poll_s=0.01)
    assert len(polls) >= 2
