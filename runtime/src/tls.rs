//! The process's rustls crypto provider, for the Redis client's TLS (which takes the process's
//! default). rustls needs one process-wide provider when more than one is compiled in;
//! kansoku's TLS uses ring, installed only when no provider is yet. (kansoku's hyper clients
//! are given ring directly and need none.)

pub(crate) fn install_ring_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // another thread may install one first: either is fine
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
