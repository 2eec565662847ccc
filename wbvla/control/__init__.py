"""The one closed loop and what it drives (layer 4: below ``locomotion``, ``tasks``, ``vla`` and
``runtime``, so none of them imports another to know what a policy is or how a tick works).

* :mod:`~wbvla.control.policy_contract`: the policy contract every runner calls (numpy only):
  :class:`~wbvla.control.policy_contract.Policy`, :class:`~wbvla.control.policy_contract.PolicyOutput`,
  :data:`~wbvla.control.policy_contract.CommandKind`, :func:`~wbvla.control.policy_contract.check_state`,
  the one image-size default (:func:`~wbvla.control.policy_contract.image_size_of`);
* :mod:`~wbvla.control.tick`: the tick (:class:`~wbvla.control.tick.ControlTick`): watchdog
  (:class:`~wbvla.control.tick.Supervisor`), chunk timing (:func:`~wbvla.control.tick.chunk_at`),
  temporal ensembling (:func:`~wbvla.control.tick.ensemble_at`);
* :mod:`~wbvla.control.targets`: joint ranges and rate limits (:class:`~wbvla.control.targets.TargetFilter`);
  :mod:`~wbvla.control.config`: their values (:class:`~wbvla.control.config.SafetyConfig`) and
  how chunks are executed (:class:`~wbvla.control.config.ExecutionConfig`);
* :mod:`~wbvla.control.lmo`: the LMO on the backend's arrays (numpy + onnxruntime);
* :mod:`~wbvla.control.backend`: the backend interface (``RobotState``, ``RobotBackend``,
  ``RecordingBackend``); :mod:`~wbvla.control.sim_backend`: the simulated robot (MuJoCo, either
  clock); :mod:`~wbvla.control.x2`: the AgiBot X2 SDK seam.

Robot side (``deploy/robot_runner.py``): everything here but ``sim_backend`` imports neither torch
nor MuJoCo.

Two loops, mapped before they were merged (issue 19, at commit 8e71fa2)
-----------------------------------------------------------------------

================  ==========================================  ==========================================
                  suite: ``tasks/runner.py:run_trial``        deploy: ``runtime/runner.py:RobotRunner``
                  (task suite, teleop recording, DAgger,      (``deploy/robot_runner.py``, notebook 11,
                  quickstart, expert evaluation)              the runtime tests)
================  ==========================================  ==========================================
clock             simulated: a loop over 10 Hz policy ticks,  wall time: absolute deadlines
                  5 control steps each, 4 physics steps       ``t0 + k * period_s`` (20 ms), commands
                  per control step inside the backend         polled between ticks
observation       every ``replan_every`` policy ticks, at     every ``obs_every`` = 5 ticks after the
                  the start of the tick; image rendered       write, state read at the tick's start;
                  synchronously from ``MjData``               image = the twin's camera thread's latest
                                                              frame (10 Hz, asynchronous)
latency           none: the answer drives the same tick       >= one period: a command is applied from
                                                              the first tick after it arrives
chunk timing      row ``r = tick % replan_every`` over policy ``supervisor.chunk_at``: row i belongs to
                  tick r; the arm/gripper targets ramp        ``t_obs + i * dt`` (the command's dt),
                  linearly from the previous row to row r     linear between rows, last row held; the
                  over the 5 control steps; ``dt`` ignored    observation's timestamp absorbs latency
target filter     none (MuJoCo's ``ctrlrange`` clamps)        ``safety.TargetFilter``: clamp to the
                                                              joint table, then rate limits from the
                                                              last output
rate limits       none: a 1 rad chunk step moves at 10 rad/s  arms 2 rad/s, grippers 0.2 m/s, h* 0.15
                  (the ideal base limits its pelvis at        m/s, legs 20 rad/s (backstop), waist to
                  0.15 m/s itself)                            default; the safe-pose ramp 0.5 rad/s
watchdog          none                                        ``supervisor.Supervisor``: wait / active /
                                                              hold (0.3 s) / safe (1 s) / estop
u_t               the chunk's command, held; flags -> Eq. 2   the accepted command's flags + the filtered
                  velocity (``VelocityReference``) for a      h*; stand (flags 0) outside ``active``
                  velocity backend
LMO               ``locomotion.physics.OnnxLegBackend`` ->    ``runtime.lmo_stage.LMOStage``: a second
                  ``lmo.policy.LMOController``: observation   builder (``ProprioObservation``) on the
                  from ``MjData`` through torch lag buffers   backend's arrays, no lag; refuses a
                  (lag 0), gait clock + reference gait,       gait-clock policy; legs clamped and
                  legs clipped, waist at default, 4           rate-limited by the target filter
                  ``mj_step`` inside
backend           ``locomotion.LocomotionBackend.step(data,   ``runtime.backends``: ``RobotBackend``
                  u, arms, grippers)``: ``lmo``,              read() -> ``RobotState``, write(29 targets,
                  ``velocity_rl`` (physics) or the ideal      u); ``SimBackend`` (MuJoCo twin, LMO
                  base (kinematic)                            solver settings, ideal base or physics),
                                                              ``X2Backend`` (SDK seam)
image size        ``RunnerConfig.image_size`` = 128 (suite,   ``SimTwinConfig.image_size`` = 224; the
                  teleop, DAgger configs say 128 too)         VLA resizes to its tower (64,
                                                              ``vla/config.py``)
configs           ``tasks.runner.RunnerConfig``,              ``runtime.config.RunnerConfig`` (same
                  ``locomotion.make_backend``                 name), ``runtime.runner.make_backend``
================  ==========================================  ==========================================

The one loop (this package)
---------------------------

One tick, run by both runners: the deployment's behaviour, which is what the robot needs.

* **Clock.** The tick is a function of the time ``now_ns`` it is given; a runner owns the clock. The
  suite runs ticks at ``k * period_s`` on a simulated clock without sockets; the robot runner
  runs the same tick at wall-clock deadlines over ZeroMQ.
* **Observation and latency.** Every ``obs_every`` ticks, after the tick's write, the runner
  takes an observation (the state read at the tick's start, the head image of that state). Its
  answer is accepted with the observation's timestamp and applied from the next tick: on the
  simulated clock at once (one period of latency, the least a robot can have), on the robot
  when it arrives.
* **Chunk timing.** Row ``i`` of a chunk is the target at ``t_obs + i * dt``, interpolated
  linearly between rows, held after the last (``chunk_at``).
  ``ExecutionConfig.chunk_execution``: ``chunk`` (default) follows the newest chunk;
  ``temporal_ensemble`` follows ACT's weighted average of every kept chunk that covers the tick
  (``ensemble_at``, weights ``exp(-m i)``, ``i = 0`` the oldest).
* **Watchdog.** wait / active / hold / safe / estop (``Supervisor``), the same on both clocks.
* **Target filter and rate limits.** Every target is clamped to the joint table and moves at most
  ``rate * period`` per tick from the last output (``TargetFilter``; rates from ``SafetyConfig``).
* **LMO.** One numpy + onnxruntime controller (observation history, gait clock, reference gait,
  action mapping) runs on the backend's arrays (``RobotState``); the MuJoCo evaluation of the LMO
  feeds it lagged sensor arrays, the robot its own.
* **Backend.** ``RobotBackend``: read() -> ``RobotState``, write(29 targets, u_t), head image.
  The simulated robot (a MuJoCo scene, physics legs or a kinematic base passed in, the camera
  rendered from the state of the last read) and the X2 SDK seam.
* **Image size.** One default (:data:`~wbvla.control.policy_contract.DEFAULT_IMAGE_SIZE`); a
  policy that says what it consumes (``image_size``) is given that.
"""
