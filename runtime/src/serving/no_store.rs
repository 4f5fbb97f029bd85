//! A served route without a store: `store.rs`'s `Series`, holding nothing.

#[derive(Debug)]
pub(crate) struct Series;

impl Series {
    pub(crate) const fn none() -> Series {
        Series
    }
}
