"""The parking gate at the edge: a persisted card book, a pure decision, the barrier relay and
the controller that ties a card read to all three, online or offline."""
