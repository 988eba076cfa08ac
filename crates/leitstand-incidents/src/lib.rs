//! The incident process of the seeds (DORA Art. 17–19, BSI DER.2.1) as pure
//! functions: what an incident is (severity, phase, status), which times
//! may stand together, when the first response and each regulatory report
//! are due and when to remind, whether an incident is *major* under DORA
//! (Del. Reg. (EU) 2024/1772), and which incidents recur.
//!
//! Nothing here stores, sends or reads a clock: the service in
//! `leitstand-app` passes `now` and the facts it has stored, and acts on
//! what these functions decide. That keeps every deadline rule testable
//! with plain timestamps, and makes recomputing every running clock after
//! a restart a loop over stored facts — no timer state to lose.

pub mod classification;
pub mod clocks;
pub mod incident;
pub mod recurring;

pub use classification::{Basis, Criterion, CriterionResult, DoraAnswers, DoraClassification, InconsistentAnswers};
pub use clocks::{Clock, ClockFacts, ClockKind, ClockPolicy, ClockState, EntityType, Regimes, ReportKind, clocks};
pub use incident::{IncidentTimes, Phase, Status, TimeError};
pub use leitstand_core::policy::Severity;
pub use recurring::{Occurrence, recurring};
