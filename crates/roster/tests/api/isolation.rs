//! Cross-tenant isolation and permissions, table-driven over every /v1 route.
