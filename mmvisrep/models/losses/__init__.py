from .soco_correspondence_loss import SoCoCorrespondenceLoss, soco_correspondence

__all__ = ['SoCoCorrespondenceLoss', 'soco_correspondence']
