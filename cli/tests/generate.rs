//! The command line of the generators: the checked-in files are what `kansoku-cli` prints for
//! the example's input, and bad input is a clear error with exit status 2.

use std::path::Path;
use std::process::Command;

fn cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kansoku-cli"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("kansoku-cli runs")
}

#[test]
fn prints_the_checked_in_files_for_the_example() {
    for (command, file) in [
        ("rules", "deploy/prometheus-rules.yml"),
        ("dashboard", "deploy/grafana-dashboard.json"),
        ("alertmanager", "deploy/alertmanager.yml"),
    ] {
        let out = cli(&[command, "--config", "deploy/osakamenesu.toml"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let checked_in =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file))
                .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout) == checked_in,
            "{file} differs from `kansoku-cli {command}`"
        );
    }
}

#[test]
fn flags_declare_objectives_without_a_file() {
    let out = cli(&[
        "rules",
        "--namespace",
        "shop",
        "--slo-availability",
        "0.999",
        "--slo-latency",
        "0.99:0.5",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rules = String::from_utf8_lossy(&out.stdout);
    assert!(
        rules.contains("alert: SLOAvailabilityBudgetBurnFast"),
        "{rules}"
    );
    assert!(rules.contains("le=\\\"0.5\\\""), "{rules}");
    assert!(rules.contains("/ 0.001"), "{rules}");
}

#[test]
fn bad_input_is_a_clear_error() {
    for (args, message) in [
        (&["rules"][..], "no namespace"),
        (&["rules", "--namespace", "9shop"][..], "namespace `9shop`"),
        (
            &["rules", "--namespace", "shop", "--slo-latency", "0.99:0.3"][..],
            "0.3 is not a bucket bound",
        ),
        (
            &["rules", "--namespace", "shop", "--slo-latency", "fast"][..],
            "expected OBJECTIVE:SECONDS",
        ),
        (
            &["rules", "--namespace", "shop", "--bogus", "1"][..],
            "unknown flag `--bogus`",
        ),
        (
            &["rules", "--config", "does-not-exist.toml"][..],
            "cannot read `does-not-exist.toml`",
        ),
        (&["frobnicate"][..], "unknown command `frobnicate`"),
    ] {
        let out = cli(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
fn a_typo_in_the_input_file_is_named() {
    let dir = std::env::temp_dir().join(format!("kansoku-cli-typo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("input.toml");
    std::fs::write(
        &file,
        "namespace = \"shop\"\n[alerts]\nerror_ration = 0.05\n",
    )
    .unwrap();
    let out = cli(&["rules", "--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error_ration"), "{stderr}");
    std::fs::write(
        &file,
        "namespace = \"shop\"\n[[slo]]\nname = \"lat\"\nkind = \"latency\"\nobjective = 0.99\n",
    )
    .unwrap();
    let out = cli(&["rules", "--config", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("slo `lat`: a latency objective needs threshold_seconds"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
