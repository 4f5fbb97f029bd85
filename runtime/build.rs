//! Names the feature conditions the crate tests in many places, so that each is written once:
//!
//! - `store`: the in-process store of calls and series (`record`), kept when a backend reads
//!   it: `prometheus` (the Prometheus text), `otlp` (pushed to a collector) or `redis` (the
//!   real-time counters);
//! - `any_backend`: `store` or `sentry`, when a call has somewhere to go.

fn main() {
    let on = |feature: &str| {
        std::env::var_os(format!("CARGO_FEATURE_{}", feature.to_uppercase())).is_some()
    };
    let store = on("prometheus") || on("redis") || on("otlp");
    let any_backend = store || on("sentry");
    for (name, set) in [("store", store), ("any_backend", any_backend)] {
        println!("cargo::rustc-check-cfg=cfg({name})");
        if set {
            println!("cargo::rustc-cfg={name}");
        }
    }
    println!("cargo::rerun-if-changed=build.rs");
}
