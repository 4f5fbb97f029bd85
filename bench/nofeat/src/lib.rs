//! Empty: the code is in `benches/`.
