"""Change control: saved plans and their approvals, weekly change windows and dated freezes.

``schedule`` and ``zones`` are pure rules over plain values (the quick status reader uses them
without the database layer); ``document`` is the saved plan's file; ``gate`` is what every run's
start asks (``kinds.base.start_run``); ``settings`` changes the policy, the windows and the
freezes; ``now`` answers "may I change now, and if not, when?".
"""
