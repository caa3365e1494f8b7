//! The contract every AWS service keeps, so that a reader who knows one
//! knows them all. Inside, each service has the same four parts: `desired`
//! (pure: what the spec asks for), `observe` (what AWS has), `diff` (pure:
//! the operations from one to the other) and `apply` (the calls). Outside,
//! each offers one step of a pass and one of a deletion, with this
//! vocabulary: what it needs from the services before it (`Inputs`), what
//! it gives the services after it (`Outputs`), and what it found and did
//! ([`StepOutcome`]: changes, conflicts, pending work, errors of single
//! regions). A step that fails as a whole is an `Err`.

use std::future::Future;

use crate::error::Result;
use crate::plan::{Mode, Service, StepOutcome};
use crate::target::Target;

use super::AwsClients;

/// One AWS service as a pass sees it.
pub(crate) trait ServiceStep {
    /// Which service: notes, metrics and the plan are attributed to it.
    const SERVICE: Service;
    /// What the step needs from the services before it and the last status.
    type Inputs: Sync + ?Sized;
    /// What the services after it need from it; the default stands for a
    /// step that failed as a whole.
    type Outputs: Default + Send;
    /// What a deletion needs beyond the target: what the last status
    /// remembered (regions or resources the spec no longer names).
    type Remembered: Sync + ?Sized;

    /// Makes AWS follow the target (Apply), or says how it differs (Plan).
    fn run(
        clients: &AwsClients,
        target: &Target,
        inputs: &Self::Inputs,
        mode: Mode,
    ) -> impl Future<Output = Result<StepOutcome<Self::Outputs>>> + Send;

    /// Removes what the target owns (Apply), or says what would go (Plan).
    fn destroy(
        clients: &AwsClients,
        target: &Target,
        remembered: &Self::Remembered,
        mode: Mode,
    ) -> impl Future<Output = Result<StepOutcome<()>>> + Send;
}
