//! Discovery's instruments: cycles, accounts by outcome, AWS API call attempts and errors, and
//! inventory changes proposed. Counted by the leader as discovery runs (docs/metrics.md).

use std::sync::OnceLock;
use std::time::Duration;

use argus_worker::telemetry::{meter, DURATION_BUCKETS};
use opentelemetry::metrics::{Counter, Histogram};
use opentelemetry::KeyValue;

struct Instruments {
    cycles: Counter<u64>,
    cycle_duration: Histogram<f64>,
    accounts: Counter<u64>,
    api_calls: Counter<u64>,
    errors: Counter<u64>,
    changes: Counter<u64>,
}

fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let m = meter();
        Instruments {
            cycles: m
                .u64_counter("argus.discovery.cycles")
                .with_unit("{cycle}")
                .with_description("Discovery cycles finished, by outcome")
                .build(),
            cycle_duration: m
                .f64_histogram("argus.discovery.cycle.duration")
                .with_unit("s")
                .with_description("How long one discovery cycle took")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            accounts: m
                .u64_counter("argus.discovery.accounts")
                .with_unit("{account}")
                .with_description("Accounts discovered, by outcome")
                .build(),
            api_calls: m
                .u64_counter("argus.discovery.api_calls")
                .with_unit("{call}")
                .with_description("AWS API call attempts (retries included), by service and operation")
                .build(),
            errors: m
                .u64_counter("argus.discovery.errors")
                .with_unit("{error}")
                .with_description("AWS API calls that failed after their retries, by operation and error code")
                .build(),
            changes: m
                .u64_counter("argus.discovery.changes")
                .with_unit("{resource}")
                .with_description("Inventory changes discovery proposed, by kind and resource type")
                .build(),
        }
    })
}

/// A finished cycle: `ok` when every account was read, else `partial`.
pub fn cycle(outcome: &'static str, took: Duration) {
    let i = instruments();
    i.cycles.add(1, &[KeyValue::new("discovery.outcome", outcome)]);
    i.cycle_duration.record(took.as_secs_f64(), &[]);
}

/// One account read (`ok`), refused (`access_denied`) or failed otherwise (`failed`).
pub fn account(outcome: &'static str) {
    instruments()
        .accounts
        .add(1, &[KeyValue::new("discovery.outcome", outcome)]);
}

pub fn api_call(service: &str, operation: &str) {
    instruments().api_calls.add(
        1,
        &[
            KeyValue::new("aws.service", service.to_string()),
            KeyValue::new("aws.operation", operation.to_string()),
        ],
    );
}

pub fn error(operation: &'static str, code: &str) {
    let code = if code.is_empty() { "none" } else { code };
    instruments().errors.add(
        1,
        &[
            KeyValue::new("aws.operation", operation),
            KeyValue::new("error.code", code.to_string()),
        ],
    );
}

/// `kind` is `added`, `updated` or `removed`; removals carry no resource type.
pub fn changes(kind: &'static str, resource_type: Option<&'static str>, n: u64) {
    if n == 0 {
        return;
    }
    let mut attributes = vec![KeyValue::new("change.kind", kind)];
    if let Some(t) = resource_type {
        attributes.push(KeyValue::new("resource.type", t));
    }
    instruments().changes.add(n, &attributes);
}
