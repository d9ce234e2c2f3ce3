"""The mapping file admins edit (``mappings/*.yaml``), as typed objects, and the pure functions
that apply it to one contact (``transform``, ``templates``)."""

from syncd.mapping.feedback import Feedback, FeedbackProperty
from syncd.mapping.load import (BUNDLED_MAPPING, MAPPING_VERSION, bundled_mapping_path, load_mapping, locate,
                               mapping_json_schema)
from syncd.mapping.model import Condition, FieldRule, Mapping

__all__ = ["BUNDLED_MAPPING", "MAPPING_VERSION", "Condition", "Feedback", "FeedbackProperty", "FieldRule",
           "Mapping", "bundled_mapping_path", "load_mapping", "locate", "mapping_json_schema"]
