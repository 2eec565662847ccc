"""The closed-loop whole-body task suite: the Table 2 / Table 6 / Fig. 3 / Fig. 7 analogs.

* :mod:`~wbvla.suite.config`   what to run (rows, backends, seeds; the Fig. 3 grid; workers)
* :mod:`~wbvla.suite.trials`   trial units, the rows' policies, one trial in a worker
* :mod:`~wbvla.suite.run`      planning, training missing rows, the worker pool
* :mod:`~wbvla.suite.store`    the resumable JSON-lines result store
* :mod:`~wbvla.suite.trace`    per-tick scene trace of a trial (for the failure rules)
* :mod:`~wbvla.suite.failures` automatic failure classification (Fig. 7 analog)
* :mod:`~wbvla.suite.stats`    Wilson intervals, Table 2 cells
* :mod:`~wbvla.suite.report`   the table, orderings, curves, failure counts, cost
* :mod:`~wbvla.suite.figures`  the figures of notebook 10

Trials run through the one closed-loop runner, :func:`wbvla.tasks.runner.run_trial`.
"""
