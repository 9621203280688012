"""Stand-ins for field devices, speaking the real protocols over real transports."""
