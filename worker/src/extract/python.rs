//! PLACEHOLDER: replaced by the extractor's implementation.

use super::{ExtractError, ExtractInput, ExtractResult, Extractor};

pub struct PythonMetadata;

impl Extractor for PythonMetadata {
    fn name(&self) -> &'static str {
        "pythonmetadata"
    }
    fn wants(&self, _path: &str) -> bool {
        false
    }
    fn extract(&self, _input: &ExtractInput<'_>) -> ExtractResult {
        Err(ExtractError::new("not implemented"))
    }
}

pub struct Requirements;

impl Extractor for Requirements {
    fn name(&self) -> &'static str {
        "requirements"
    }
    fn wants(&self, _path: &str) -> bool {
        false
    }
    fn extract(&self, _input: &ExtractInput<'_>) -> ExtractResult {
        Err(ExtractError::new("not implemented"))
    }
}

