"""model-index.yml and every metafile.yml point at files that exist (OpenMMLab model zoo)."""
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_metafiles_reference_existing_configs_and_readmes():
    index = yaml.safe_load((REPO / 'model-index.yml').read_text())
    metafiles = [REPO / p for p in index['Import']]
    on_disk = sorted(REPO.glob('configs/*/metafile.yml'))
    assert sorted(metafiles) == on_disk, 'model-index.yml must import every configs/*/metafile.yml'
    for path in metafiles:
        meta = yaml.safe_load(path.read_text())
        collections = {c['Name'] for c in meta['Collections']}
        for collection in meta['Collections']:
            assert (REPO / collection['README']).is_file(), (path, collection['README'])
        for model in meta['Models']:
            assert (REPO / model['Config']).is_file(), (path, model['Name'])
            assert model['In Collection'] in collections, (path, model['Name'])
            assert Path(model['Config']).stem == model['Name'], (path, model['Name'])
