"""Stage I data: simulated egocentric corpora (locomotion human/robot, manipulation), their
parquet index, frame-pair datasets, and readers for real video folders and LeRobot v3 datasets."""
