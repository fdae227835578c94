""" Contains all the data models used in inputs/outputs """

from .api_key_create import ApiKeyCreate
from .api_key_created import ApiKeyCreated
from .api_key_read import ApiKeyRead
from .artifact_kind import ArtifactKind
from .artifact_read import ArtifactRead
from .blend_mode import BlendMode
from .blueprint_read import BlueprintRead
from .blueprint_read_slot_kinds_item import BlueprintReadSlotKindsItem
from .blueprint_read_tier import BlueprintReadTier
from .checkpoint_read import CheckpointRead
from .command_batch import CommandBatch
from .command_page import CommandPage
from .command_read import CommandRead
from .command_read_params import CommandReadParams
from .command_read_result import CommandReadResult
from .command_state import CommandState
from .command_type import CommandType
from .emergency_halt import EmergencyHalt
from .error_body import ErrorBody
from .error_code import ErrorCode
from .error_response import ErrorResponse
from .gradient_aggregation import GradientAggregation
from .http_validation_error import HTTPValidationError
from .level import Level
from .liveness import Liveness
from .model_options import ModelOptions
from .model_options_options import ModelOptionsOptions
from .morphogenesis import Morphogenesis
from .morphogenesis_gates import MorphogenesisGates
from .morphogenesis_policy_options import MorphogenesisPolicyOptions
from .packet_kind import PacketKind
from .pause import Pause
from .profile import Profile
from .readiness import Readiness
from .registry_reset import RegistryReset
from .restart_policy import RestartPolicy
from .resume import Resume
from .resume_from import ResumeFrom
from .role import Role
from .rollback import Rollback
from .run_create import RunCreate
from .run_create_labels import RunCreateLabels
from .run_metrics import RunMetrics
from .run_page import RunPage
from .run_read import RunRead
from .run_read_result import RunReadResult
from .run_read_seeds import RunReadSeeds
from .run_sort import RunSort
from .run_state import RunState
from .seed_disable import SeedDisable
from .seed_enable import SeedEnable
from .seed_gate import SeedGate
from .seed_gate_figures import SeedGateFigures
from .seed_outcome import SeedOutcome
from .seed_read import SeedRead
from .seed_stage import SeedStage
from .seed_stage_entry import SeedStageEntry
from .stop import Stop
from .task_read import TaskRead
from .telemetry_bucket import TelemetryBucket
from .telemetry_packet import TelemetryPacket
from .telemetry_packet_attrs import TelemetryPacketAttrs
from .telemetry_page import TelemetryPage
from .telemetry_series import TelemetrySeries
from .validation_error import ValidationError
from .validation_error_context import ValidationErrorContext
from .whoami_response_whoami import WhoamiResponseWhoami
from .worker_read import WorkerRead
from .worker_read_capabilities import WorkerReadCapabilities
from .worker_state import WorkerState
from .ws_ticket import WsTicket

__all__ = (
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyRead",
    "ArtifactKind",
    "ArtifactRead",
    "BlendMode",
    "BlueprintRead",
    "BlueprintReadSlotKindsItem",
    "BlueprintReadTier",
    "CheckpointRead",
    "CommandBatch",
    "CommandPage",
    "CommandRead",
    "CommandReadParams",
    "CommandReadResult",
    "CommandState",
    "CommandType",
    "EmergencyHalt",
    "ErrorBody",
    "ErrorCode",
    "ErrorResponse",
    "GradientAggregation",
    "HTTPValidationError",
    "Level",
    "Liveness",
    "ModelOptions",
    "ModelOptionsOptions",
    "Morphogenesis",
    "MorphogenesisGates",
    "MorphogenesisPolicyOptions",
    "PacketKind",
    "Pause",
    "Profile",
    "Readiness",
    "RegistryReset",
    "RestartPolicy",
    "Resume",
    "ResumeFrom",
    "Role",
    "Rollback",
    "RunCreate",
    "RunCreateLabels",
    "RunMetrics",
    "RunPage",
    "RunRead",
    "RunReadResult",
    "RunReadSeeds",
    "RunSort",
    "RunState",
    "SeedDisable",
    "SeedEnable",
    "SeedGate",
    "SeedGateFigures",
    "SeedOutcome",
    "SeedRead",
    "SeedStage",
    "SeedStageEntry",
    "Stop",
    "TaskRead",
    "TelemetryBucket",
    "TelemetryPacket",
    "TelemetryPacketAttrs",
    "TelemetryPage",
    "TelemetrySeries",
    "ValidationError",
    "ValidationErrorContext",
    "WhoamiResponseWhoami",
    "WorkerRead",
    "WorkerReadCapabilities",
    "WorkerState",
    "WsTicket",
)
