//! Scoring: CVSS base scores computed from vector strings, and severities.

pub mod cvss;
