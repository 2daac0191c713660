//! Figures: percentiles, disk usage, and the table printed without `--json`.

use serde_json::Value;

/// The `p` quantile (0..1) of unsorted samples; 0 without samples.
pub fn percentile(samples: &mut [f32], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(f32::total_cmp);
    f64::from(samples[((samples.len() - 1) as f64 * p).round() as usize])
}

/// p50, p99 and max of samples in milliseconds, as JSON.
pub fn spread(samples: &mut [f32]) -> Value {
    serde_json::json!({
        "p50": percentile(samples, 0.5),
        "p99": percentile(samples, 0.99),
        "max": percentile(samples, 1.0),
        "samples": samples.len(),
    })
}

fn num(v: &Value, path: &[&str]) -> String {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(next) => cur = next,
            None => return "–".into(),
        }
    }
    match cur {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(0.0);
            if f >= 100.0 {
                format!("{f:.0}")
            } else {
                format!("{f:.2}")
            }
        }
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => s.clone(),
        _ => "–".into(),
    }
}

/// The report as Markdown tables.
pub fn print_table(report: &Value) {
    println!("{}", report["parameters"]);
    println!();
    println!(
        "| scenario | seconds | resources put/s | resources scheduled/s | jobs/s | findings/s | end-to-end p50 / p99 ms | feed lag p50 / p99 ms | lost | duplicated |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    if let Some(Value::Object(scenarios)) = report.get("scenarios") {
        for (name, s) in scenarios {
            if s.get("skipped").is_some() {
                println!("| {name} | skipped: {} | | | | | | | | |", num(s, &["skipped"]));
                continue;
            }
            println!(
                "| {name} | {} | {} | {} | {} | {} | {} / {} | {} / {} | {} | {} |",
                num(s, &["seconds"]),
                num(s, &["resources_put_per_s"]),
                num(s, &["resources_scheduled_per_s"]),
                num(s, &["jobs_per_s"]),
                num(s, &["findings_per_s"]),
                num(s, &["end_to_end_ms", "p50"]),
                num(s, &["end_to_end_ms", "p99"]),
                num(s, &["feed_lag_ms", "p50"]),
                num(s, &["feed_lag_ms", "p99"]),
                num(s, &["verdict", "lost"]),
                num(s, &["verdict", "duplicated"]),
            );
        }
        for (name, s) in scenarios {
            let extra: Vec<String> = s
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, v)| !v.is_object() && !v.is_array() && k.as_str() != "seconds")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            if !extra.is_empty() {
                println!("\n{name}: {}", extra.join(", "));
            }
            if let Some(steps) = s.get("steps").and_then(Value::as_array) {
                println!("\n| workers | jobs | seconds | jobs/s |\n| ---: | ---: | ---: | ---: |");
                for st in steps {
                    println!(
                        "| {} | {} | {} | {} |",
                        num(st, &["workers"]),
                        num(st, &["jobs"]),
                        num(st, &["seconds"]),
                        num(st, &["jobs_per_s"])
                    );
                }
            }
        }
    }
    println!("\n| process | RSS MiB | peak RSS MiB | disk MiB |\n| --- | ---: | ---: | ---: |");
    for p in report["processes"].as_array().into_iter().flatten() {
        println!(
            "| {} | {} | {} | {} |",
            num(p, &["process"]),
            num(p, &["rss_mib"]),
            num(p, &["peak_rss_mib"]),
            num(p, &["disk_mib"])
        );
    }
    println!(
        "\nlost {} · duplicated {} · feed duplicates {} · every verification exact: {}",
        num(report, &["lost"]),
        num(report, &["duplicated"]),
        num(report, &["feed_duplicates"]),
        num(report, &["exact"])
    );
}
