//! Statistics over windows of time, from the store's snapshots and with no backend: the
//! deltas between two snapshots ([`Harvester`]), what a window of calls looks like
//! ([`CallStats`], quantiles interpolated from histogram buckets), and this instance's own
//! recent windows ([`LocalStats`]). The Redis backend writes and reads the same shapes across
//! instances; nothing here depends on it.

mod call;
mod delta;
mod window;

pub use call::{CallStats, RealtimeSnapshot};
pub(crate) use delta::{Harvester, SeriesKey, Values};
pub(crate) use window::LocalStats;
