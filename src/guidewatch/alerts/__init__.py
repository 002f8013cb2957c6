"""What editors are told: alert lifecycle rules, the digest, delivery channels."""
