//! Resolving the allowlisted domains with hickory-resolver. (being written)
