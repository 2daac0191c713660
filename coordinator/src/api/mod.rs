//! The `argus.v1` gRPC services. INTERFACE STUB: written on the `helper-api` branch.
