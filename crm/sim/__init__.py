"""A simulated CRM world whose truth is known: latent relationship state driven by the seven elements,
reps' imperfect habits as the logging policy, returns and deals, an oracle and policy rollouts.

Parameters are frozen in :mod:`crm.sim.params`; every change needs a line in ``CHANGELOG`` there.
"""
