"""The ground every service stands on: who may do what (access), what was done (audit),
what changed (events), address spelling, and cached sets of user ids."""
