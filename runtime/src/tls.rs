//! The process's rustls crypto provider. rustls needs one process-wide provider when more than
//! one is compiled in, and kansoku's reqwest is built with none of its own (a provider chosen
//! by kansoku would be forced on every reqwest client of the application, features unify).
//! kansoku's TLS uses ring; it is installed only when no provider is yet.

pub(crate) fn install_ring_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // another thread may install one first: either is fine
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
