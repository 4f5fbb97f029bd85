//! When an alert fires: the value compared with a threshold.

use std::fmt;

/// How the value is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// Fires when the value is greater than the threshold.
    Above,
    /// Fires when the value is greater than or equal to it.
    AtLeast,
    /// Fires when the value is less than the threshold.
    Below,
    /// Fires when the value is less than or equal to it.
    AtMost,
}

impl Comparison {
    /// Whether `value` compared with `threshold` fires. `NaN` never does.
    pub fn fires(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Above => value > threshold,
            Comparison::AtLeast => value >= threshold,
            Comparison::Below => value < threshold,
            Comparison::AtMost => value <= threshold,
        }
    }

    /// `>`, `>=`, `<`, `<=`.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Above => ">",
            Comparison::AtLeast => ">=",
            Comparison::Below => "<",
            Comparison::AtMost => "<=",
        }
    }
}

/// A comparison with its threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Condition {
    pub(crate) comparison: Comparison,
    pub(crate) threshold: f64,
}

impl Condition {
    pub(crate) fn fires(&self, value: f64) -> bool {
        self.comparison.fires(value, self.threshold)
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.comparison.symbol(), self.threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::Comparison;

    #[test]
    fn comparisons_and_nan() {
        assert!(Comparison::Above.fires(101.0, 100.0));
        assert!(!Comparison::Above.fires(100.0, 100.0));
        assert!(Comparison::AtLeast.fires(100.0, 100.0));
        assert!(Comparison::Below.fires(1.0, 2.0));
        assert!(Comparison::AtMost.fires(2.0, 2.0));
        for c in [
            Comparison::Above,
            Comparison::AtLeast,
            Comparison::Below,
            Comparison::AtMost,
        ] {
            assert!(!c.fires(f64::NAN, 1.0));
        }
    }
}
