//! PLACEHOLDER: replaced by the extractor's implementation.

use super::{ExtractError, ExtractInput, ExtractResult, Extractor};

pub struct PoetryLock;

impl Extractor for PoetryLock {
    fn name(&self) -> &'static str {
        "poetrylock"
    }
    fn wants(&self, _path: &str) -> bool {
        false
    }
    fn extract(&self, _input: &ExtractInput<'_>) -> ExtractResult {
        Err(ExtractError::new("not implemented"))
    }
}

pub struct PipfileLock;

impl Extractor for PipfileLock {
    fn name(&self) -> &'static str {
        "pipfilelock"
    }
    fn wants(&self, _path: &str) -> bool {
        false
    }
    fn extract(&self, _input: &ExtractInput<'_>) -> ExtractResult {
        Err(ExtractError::new("not implemented"))
    }
}

pub struct UvLock;

impl Extractor for UvLock {
    fn name(&self) -> &'static str {
        "uvlock"
    }
    fn wants(&self, _path: &str) -> bool {
        false
    }
    fn extract(&self, _input: &ExtractInput<'_>) -> ExtractResult {
        Err(ExtractError::new("not implemented"))
    }
}

