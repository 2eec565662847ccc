"""Values of the official AgiBot X2 description that the simulated X2 keeps.

Source: AgibotTech/agibot_x2_urdf, ``X2_URDF-v1.4.0/X2-Ultra.xml`` (Mulan PSL v2). Joint ranges
(rad), axes and torque limits (``actuatorfrcrange``, N m), and link masses (kg), transcribed.
The joint table (:mod:`wbvla.sim.joints`) takes its ranges and limits from here; notebook 01 shows
the model against these values; tests hold their own copy as independent facts.
"""

OFFICIAL_SOURCE = "AgibotTech/agibot_x2_urdf X2_URDF-v1.4.0/X2-Ultra.xml (Mulan PSL v2)"

# name: (lower, upper, torque limit)
JOINT_LIMITS: dict[str, tuple[float, float, float]] = {
    "left_hip_pitch_joint": (-2.705260, 2.556907, 120.0),
    "left_hip_roll_joint": (-0.235619, 2.905973, 120.0),
    "left_hip_yaw_joint": (-1.858775925, 3.604104925, 120.0),
    "left_knee_joint": (0.0, 2.408554, 120.0),
    "left_ankle_pitch_joint": (-0.802851, 0.453786, 60.0),
    "left_ankle_roll_joint": (-0.2967059728, 0.2967059728, 36.0),
    "right_hip_pitch_joint": (-2.705260, 2.556907, 120.0),
    "right_hip_roll_joint": (-2.905973, 0.235619, 120.0),
    "right_hip_yaw_joint": (-3.604104925, 1.858775925, 120.0),
    "right_knee_joint": (0.0, 2.408554, 120.0),
    "right_ankle_pitch_joint": (-0.802851, 0.453786, 60.0),
    "right_ankle_roll_joint": (-0.2967059728, 0.2967059728, 36.0),
    "waist_yaw_joint": (-3.429572, 2.120575, 120.0),
    "waist_pitch_joint": (-0.314159, 0.314159, 36.0),
    "waist_roll_joint": (-0.488692, 0.488692, 36.0),
    "head_yaw_joint": (-0.488692, 0.488692, 3.13125),
    "head_pitch_joint": (-0.401425, 0.488692, 2.0),
    "left_shoulder_pitch_joint": (-3.080506, 2.033309, 60.0),
    "left_shoulder_roll_joint": (-0.061087, 3.045600, 60.0),
    "left_shoulder_yaw_joint": (-2.556907, 2.556907, 36.0),
    "left_elbow_joint": (-2.356194, 0.0, 36.0),
    "left_wrist_yaw_joint": (-2.556907, 2.556907, 36.0),
    "left_wrist_pitch_joint": (-0.523599, 0.523599, 6.0),
    "left_wrist_roll_joint": (-1.509710, 0.724312, 6.0),
    "right_shoulder_pitch_joint": (-3.080506, 2.033309, 60.0),
    "right_shoulder_roll_joint": (-3.045600, 0.061087, 60.0),
    "right_shoulder_yaw_joint": (-2.556907, 2.556907, 36.0),
    "right_elbow_joint": (-2.356194, 0.0, 36.0),
    "right_wrist_yaw_joint": (-2.556907, 2.556907, 36.0),
    "right_wrist_pitch_joint": (-0.523599, 0.523599, 6.0),
    "right_wrist_roll_joint": (-0.724312, 1.509710, 6.0),
}

LINK_MASSES: dict[str, float] = {
    "pelvis": 3.59,
    "left_hip_pitch_link": 1.474, "left_hip_roll_link": 1.667, "left_hip_yaw_link": 2.087,
    "left_knee_link": 1.838, "left_ankle_pitch_link": 0.949, "left_ankle_roll_link": 1.048,
    "right_hip_pitch_link": 1.476, "right_hip_roll_link": 1.669, "right_hip_yaw_link": 2.072,
    "right_knee_link": 1.826, "right_ankle_pitch_link": 0.948, "right_ankle_roll_link": 1.046,
    "waist_yaw_link": 1.788, "waist_pitch_link": 0.42, "torso_link": 10.986,
    "left_shoulder_pitch_link": 0.927, "left_shoulder_roll_link": 0.741, "left_shoulder_yaw_link": 0.703,
    "left_elbow_link": 0.675, "left_wrist_yaw_link": 0.37, "left_wrist_pitch_link": 0.344,
    "left_wrist_roll_link": 0.338,
    "right_shoulder_pitch_link": 0.936, "right_shoulder_roll_link": 0.73, "right_shoulder_yaw_link": 0.696,
    "right_elbow_link": 0.674, "right_wrist_yaw_link": 0.373, "right_wrist_pitch_link": 0.336,
    "right_wrist_roll_link": 0.337,
    "head_yaw_link": 0.709, "head_pitch_link": 1.028,
}
"""Link masses (kg); they sum to 44.801 kg."""
