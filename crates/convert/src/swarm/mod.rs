//! Docker Swarm service specs (below).
