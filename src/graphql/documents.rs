//! Parsed and validated documents, kept by their text. A client sends the
//! same few queries over and over; parsing one costs more than executing it
//! (the profile in BENCHMARKS.md), and validating one nearly as much. A
//! document that passed validation is kept (by `pipeline`), so the next
//! request with the same text reuses the parse, and, when the document
//! declares no variables (whose values validation checks), the validation
//! too. The cache is bounded in entries and in the size of each text; when it
//! is full it starts over, so a client sending endless distinct queries only
//! turns it off.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError, RwLock},
};

use async_graphql::{ValidationResult, parser::types::ExecutableDocument};

/// Longer texts are parsed every time (they are rare, and a bound keeps the
/// cache's memory small: at most `MAX_ENTRIES` × this, and their documents).
pub const MAX_TEXT_BYTES: usize = 8 * 1024;
pub const MAX_ENTRIES: usize = 512;

pub struct Entry {
    pub doc: ExecutableDocument,
    /// Validation results by operation name, when the document declares no
    /// variables.
    validated: Mutex<Vec<(Option<String>, ValidationResult)>>,
}

impl Entry {
    /// The validation result of `operation`, if it can be reused.
    pub fn validated(&self, operation: Option<&str>) -> Option<ValidationResult> {
        let validated = self
            .validated
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        validated
            .iter()
            .find(|(op, _)| op.as_deref() == operation)
            .map(|(_, r)| *r)
    }

    /// Keeps `result` for `operation`, unless it depends on variables.
    pub fn remember(&self, operation: Option<&str>, result: ValidationResult) {
        if declares_variables(&self.doc) {
            return;
        }
        let mut validated = self
            .validated
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if validated.len() < 4 && !validated.iter().any(|(op, _)| op.as_deref() == operation) {
            validated.push((operation.map(str::to_owned), result));
        }
    }
}

fn declares_variables(doc: &ExecutableDocument) -> bool {
    doc.operations
        .iter()
        .any(|(_, op)| !op.node.variable_definitions.is_empty())
}

/// Shared by every request of one schema (a clone shares it).
#[derive(Clone, Default)]
pub struct DocumentCache {
    entries: Arc<RwLock<HashMap<Box<str>, Arc<Entry>>>>,
}

impl DocumentCache {
    pub fn get(&self, text: &str) -> Option<Arc<Entry>> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries.get(text).cloned()
    }

    /// Keeps `doc`, which passed validation, under its text.
    pub fn insert(&self, text: &str, doc: ExecutableDocument) -> Arc<Entry> {
        let entry = Arc::new(Entry {
            doc,
            validated: Mutex::new(Vec::new()),
        });
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(text.into(), entry.clone());
        entry
    }

    #[cfg(test)]
    pub fn entries(&self) -> usize {
        self.entries.read().unwrap().len()
    }
}
