//! What the attribute macros expand into. **Not a stable API**: anything here may change in any
//! release; only the attributes themselves are public.
//!
//! Each annotated function gets one `static Site` describing the call site (a compile-time
//! constant) and, per call, a [`Call`] guard. The macros never look at features: with no
//! backend on, `Site` holds only its description and `Call` is zero-sized, so everything here
//! inlines to nothing. This module only re-exports: the call site and its outcome are the
//! lowest layer (`site`), the guard sits above the backends (`call`).

pub use crate::call::{Bound, Call, Entered, Inline};
pub use crate::site::{
    classify, classify_type, ClassifyError, ClassifyOther, ClassifyOtherType, ClassifyResult,
    ClassifyResultType, ErrorRef, FnInfo, Outcome, Site, SiteKind, Wrap,
};
