"""From a camera's video to training tracks (``track.py``): detect, track, curate.

  sources.py      frames from a video file, a folder of frames or a stream URL (cv2.VideoCapture)
  detectors/      person detectors: background subtraction, HOG (no weights), torchvision and ONNX (your weights)
  tracker.py      ByteTrack (supervision) and its checkpoint
  measures.py     per-box sharpness and occlusion, measured while the frame is in memory
  scan.py         the pass over the video, committed part by part (resumable)
  workdir.py      the unfinished run's state in <out>/.track-work
  curation.py     which crops and tracks become labels, and why the others do not
  writer.py       tracks.csv + one folder of crops per track (reidfw.data.formats.tracks)
  report.py       contact sheets, summary, MOTChallenge tracker output
  mlflow_run.py   the tracking run in MLflow
  command.py      what track.py does, start to finish

Scoring against ground truth lives in ``reidfw.evaluation.mot`` (HOTA, IDF1, MOTA) and
``reidfw.evaluation.track_purity``; the synthetic clips come from
``reidfw.synthetic.generators.video``.
"""
