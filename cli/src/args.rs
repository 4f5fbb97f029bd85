//! `--flag value` pairs, checked against the flags a command knows.

use std::collections::BTreeMap;

/// The flags given, by name (without `--`); a flag given twice keeps every value.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    values: BTreeMap<String, Vec<String>>,
}

impl Flags {
    pub(crate) fn parse(args: &[String], known: &[&str]) -> Result<Flags, String> {
        let mut flags = Flags::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let Some(name) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument `{arg}`"));
            };
            let (name, value) = match name.split_once('=') {
                Some((name, value)) => (name, value.to_owned()),
                None => (
                    name,
                    args.next()
                        .ok_or_else(|| format!("`--{name}` needs a value"))?
                        .clone(),
                ),
            };
            if !known.contains(&name) {
                return Err(format!(
                    "unknown flag `--{name}`; this command knows --{}",
                    known.join(", --")
                ));
            }
            flags.values.entry(name.to_owned()).or_default().push(value);
        }
        Ok(flags)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    pub(crate) fn all(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], Vec::as_slice)
    }

    /// The flag, else the environment variable (an empty value counts as unset).
    pub(crate) fn or_env(&self, name: &str, var: &str) -> Option<String> {
        self.get(name)
            .map(str::to_owned)
            .or_else(|| std::env::var(var).ok())
            .filter(|v| !v.is_empty())
    }
}
