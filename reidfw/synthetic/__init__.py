"""Procedural synthetic people for Re-ID: a numpy ray-casting renderer and four data set generators.

Real Re-ID sets cannot be downloaded here and none controls the paper's factors, so
reidfw renders its own. Modules:

  identity.py   what a person looks like (sample_identity)
  body.py       articulated solids, walking cycle, posture wobble (build_body, Pose)
  camera.py     pinhole camera with real resolution / field of view (Camera, camera_facing)
  scene.py      ground, backgrounds, light (build_scene, Light, BACKGROUNDS)
  render.py     one person in one frame -> crop, mask, box, metadata (render_person, RenderResult)
  sensor.py     the camera's image chain: optics and motion blur, exposure-dependent noise, JPEG
  generators/   tracks, unlabeled, study, market (each writes reidfw.data.formats layouts)
  cache.py      ensure_dataset(kind, settings, cache_dir) for Hydra configs
  contact_sheet.py  a PNG grid of samples for a human to look at

CLI: ``python -m reidfw.synthetic --help``.
"""
from reidfw.synthetic.body import Pose, build_body
from reidfw.synthetic.camera import Camera, camera_facing
from reidfw.synthetic.identity import Identity, sample_identity
from reidfw.synthetic.render import RENDERER_VERSION, PersonNotVisible, RenderResult, render_person
from reidfw.synthetic.scene import BACKGROUNDS, Light, build_scene

__all__ = ["BACKGROUNDS", "Camera", "Identity", "Light", "PersonNotVisible", "Pose", "RENDERER_VERSION", "RenderResult",
           "build_body", "build_scene", "camera_facing", "render_person", "sample_identity"]
