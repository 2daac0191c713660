//! INTERFACE STUB: written on the `helper-raft` branch.
