"""intake: counters, buildings, tenants, appointments; opening a case at the counter."""
