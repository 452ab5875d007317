"""Batched RoI crops vs torchvision resized_crop, the Stage-1 encoder vs mmpretrain's own
preprocessing, and the official json layouts."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image

from mmvisrep.correspondence import (ImageList, crop_resize, knn_json, load_knn_json,
                                     load_proposals, read_coco_images, resize_center_crop,
                                     write_correspondence_json)
from mmvisrep.correspondence.model import Stage1Encoder

# downscaled, upscaled, partly outside (right/bottom, then left/top), exact size, whole image
BOXES = [[3, 4, 30, 25], [5, 5, 8, 6], [40, 30, 20, 20], [-5, -3, 12, 10], [0, 0, 16, 16],
         [0, 0, 50, 40]]


@pytest.fixture
def image():
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (3, 40, 50), generator=gen, dtype=torch.uint8)


def _reference(img, boxes, size, antialias=True):
    return torch.stack([
        TF.resized_crop(img, y, x, h, w, [size, size], antialias=antialias) for x, y, w, h in boxes
    ]).float()


def test_crop_resize_matches_resized_crop(image):
    for size in (16, 24):
        out = crop_resize(image, BOXES, size)
        assert out.shape == (len(BOXES), 3, size, size) and out.dtype == torch.float32
        assert torch.equal(out, _reference(image, BOXES, size))  # uint8: rounded, exact
        fimg = image.float() / 7
        torch.testing.assert_close(
            crop_resize(fimg, BOXES, size), _reference(fimg, BOXES, size), rtol=0, atol=1e-5)
        assert torch.equal(
            crop_resize(image, BOXES, size, antialias=False),
            _reference(image, BOXES, size, antialias=False))
    # zero padding outside the image, as TF.crop
    out = crop_resize(image.float() + 1, [[45, 0, 10, 8]], 10, antialias=False)
    assert (out[0, :, :, 5:] == 0).all() and (out[0, :, :, :5] > 0).all()
    with pytest.raises(ValueError, match='empty'):
        crop_resize(image, [[0, 0, 0, 5]], 8)


def test_crops_and_center_crop_within_one_grey_level_of_pil(image):
    # the official pipeline resizes PIL images; torchvision's tensor path differs by <= 1
    pil = Image.fromarray(image.permute(1, 2, 0).numpy())

    def _pil(x):
        return torch.from_numpy(np.array(x)).permute(2, 0, 1).float()

    for x, y, w, h in BOXES[:2] + BOXES[4:]:
        ours = crop_resize(image, [[x, y, w, h]], 24)[0]
        assert (ours - _pil(TF.resized_crop(pil, y, x, h, w, [24, 24]))).abs().max() <= 1
    ours = resize_center_crop(image, 36, 32).float()
    assert ours.shape == (3, 32, 32)
    assert (ours - _pil(T.CenterCrop(32)(T.Resize(36)(pil)))).abs().max() <= 1


def _tiny_model(to_rgb):
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='BYOL',
            data_preprocessor=dict(
                type='SelfSupDataPreprocessor',
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                to_rgb=to_rgb),
            backbone=dict(type='ResNet', depth=18, norm_cfg=dict(type='BN')),
            neck=dict(
                type='NonLinearNeck',
                in_channels=512,
                hid_channels=32,
                out_channels=16,
                num_layers=2,
                with_avg_pool=True),
            head=dict(
                type='LatentPredictHead',
                loss=dict(type='CosineSimilarityLoss'),
                predictor=dict(
                    type='NonLinearNeck',
                    in_channels=16,
                    hid_channels=32,
                    out_channels=16,
                    num_layers=2,
                    with_avg_pool=False))))
    return model.eval()


@pytest.mark.parametrize('to_rgb', [True, False])
def test_encoder_matches_mmpretrain_preprocessing(to_rgb):
    import mmvisrep  # noqa: F401
    model = _tiny_model(to_rgb)
    rgb = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    bgr = rgb.flip(1)  # what mmpretrain's LoadImageFromFile delivers
    enc = Stage1Encoder(model)
    with torch.no_grad():
        inputs = model.data_preprocessor(dict(inputs=bgr, data_samples=None))['inputs']
        feat = model.backbone(inputs)
        proj = F.normalize(model.neck(feat)[0], dim=1)
        pooled = F.normalize(feat[-1].mean((2, 3)), dim=1)
    torch.testing.assert_close(enc.image_embeddings(rgb.float()), proj)
    torch.testing.assert_close(enc.roi_embeddings(rgb.float()), pooled)
    assert enc.roi_embeddings(rgb.float()).shape == (2, 512)


def test_knn_json_layout_round_trip(tmp_path):
    ann = tmp_path / 'a.json'
    ann.write_text(
        json.dumps(dict(images=[dict(id=7, file_name='b.jpg'),
                                dict(id=3, file_name='a.jpg')])))
    ann2 = tmp_path / 'u.json'
    ann2.write_text(json.dumps(dict(images=[dict(id=9, file_name='c.jpg')])))
    images = read_coco_images([str(ann), str(ann2)])
    assert images.file_names == ['b.jpg', 'a.jpg', 'c.jpg'] and images.ids == [7, 3, 9]
    data = knn_json(images, [[1, 2], [0, 2], [1, 0]], 2)
    assert data == {
        'info': {
            'knn_image_num': 2
        },
        'images': {
            'file_name': ['b.jpg', 'a.jpg', 'c.jpg'],
            'id': [7, 3, 9]
        },
        'pseudo_annotations': {
            'image_id': [7, 3, 9],
            'knn_image_id': [[1, 2], [0, 2], [1, 0]]
        }
    }
    path = tmp_path / 'knn.json'
    path.write_text(json.dumps(data))
    knn = load_knn_json(str(path))
    assert knn.k == 2 and knn.knn[2] == [1, 0] and knn.images.ids == [7, 3, 9]
    # bad files name themselves
    ann2.write_text(json.dumps(dict(images=[dict(id=9, file_name='a.jpg')])))
    with pytest.raises(ValueError, match='listed twice'):
        read_coco_images([str(ann), str(ann2)])
    data['pseudo_annotations']['knn_image_id'][1] = [0, 5]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r'knn_image_id\[1\] \(a.jpg\)'):
        load_knn_json(str(path))
    ss = tmp_path / 'ss.json'
    ss.write_text(json.dumps(dict(bbox=[[[0, 0, 5, 5]]])))
    with pytest.raises(ValueError, match='boxes for 1 images, the image list has 3'):
        load_proposals(str(ss), 3)


def test_correspondence_json_layout(tmp_path):
    images = ImageList(['a.jpg', 'b.jpg'], [5, 6])
    info = dict(
        bbox_min_size=96,
        bbox_max_aspect_ratio=3,
        bbox_max_iou=0.5,
        intra_bbox_num=100,
        knn_image_num=1,
        knn_bbox_pair_ratio=0.1)
    bboxes = [[[0, 0, 9, 9]], [[1, 1, 8, 8], [2, 2, 5, 5]]]
    pairs = [[[[0, 0, 9, 9, 1, 1, 8, 8]]], [[[1, 1, 8, 8, 0, 0, 9, 9]]]]
    path = write_correspondence_json(
        str(tmp_path / 'c.json'), info, images, [5, 6], [[1], [0]], iter(bboxes), iter(pairs))
    data = json.load(open(path))
    assert list(data) == ['info', 'images', 'pseudo_annotations']
    assert list(data['info']) == list(info) and data['info'] == info
    assert data['images'] == dict(file_name=['a.jpg', 'b.jpg'], id=[5, 6])
    assert list(
        data['pseudo_annotations']) == ['image_id', 'bbox', 'knn_image_id', 'knn_bbox_pair']
    assert data['pseudo_annotations'] == dict(
        image_id=[5, 6], bbox=bboxes, knn_image_id=[[1], [0]], knn_bbox_pair=pairs)
    with pytest.raises(ValueError, match='1 entries for 2 images'):
        write_correspondence_json(
            str(tmp_path / 'd.json'), info, images, [5, 6], [[1], [0]], bboxes[:1], pairs)
    assert not (tmp_path / 'd.json').exists()  # atomic: nothing half-written
