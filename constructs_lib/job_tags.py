"""A training job's tags: the ``tags`` prop, the stack's tags and what ``Tags.of`` adds, as the
request's ``Tags`` (a TagManager created with the first tag: most jobs have none, and each
TagManager is a jsii object)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnResource, Stack, TagManager, TagType

from .job_resource import RESOURCE_TYPE
from .memo import per_object
from .payload import could_exceed


class JobTags:
    """The tags half of ``TrainingJob`` (which sets ``_stack``, ``_initial_tags``, ``_request``,
    ``_tag_manager`` and, once built, ``resource``). First among its bases: jsii registers the
    ``tags`` getter (ITaggable, which ``Tags.of`` reads) only from classes before the jsii base."""

    _stack: Stack
    _initial_tags: dict[str, str]
    _request: dict[str, Any]
    _tag_manager: TagManager | None
    resource: CfnResource

    @property
    def tags(self) -> TagManager:
        """The job's tags: the ``tags`` prop and the stack's tags, plus what ``Tags.of(scope).add``
        adds until synthesis. Tag changes update the job in place."""
        if self._tag_manager is None:
            self._tag_manager = self._new_tag_manager()
            if getattr(self, "resource", None) is not None:
                self.resource.add_property_override("Request.Tags", self._tag_manager.rendered_tags)
        return self._tag_manager

    def _new_tag_manager(self) -> TagManager:
        return TagManager(TagType.KEY_VALUE, RESOURCE_TYPE, self._known_tags())

    def _tags_property(self) -> dict[str, Any]:
        """The request's ``Tags`` as the tag manager renders them (none without tags)."""
        return {} if self._tag_manager is None else {"Tags": self._tag_manager.rendered_tags}

    def rendered_request(self) -> dict[str, Any]:
        """The CreateTrainingJob request as the handler receives it (without the generated
        name), with the job's tags as far as they are known before synthesis."""
        rendered = self._tag_manager.render_tags() if self._tag_manager is not None else None
        return self._request_with_tags({t["Key"]: t["Value"] for t in (rendered or [])})

    def _request_to_measure(self) -> dict[str, Any]:
        """The request whose size the payload check measures: with the tags as rendered only
        when they could matter (reading them is a round trip per job)."""
        request = self._request_with_tags(self._known_tags())
        return self.rendered_request() if could_exceed(request) else request

    def _known_tags(self) -> dict[str, str]:
        """The tags at construction (no round trip to the tag manager): the stack's and the job's."""
        return {**_stack_tags(self._stack), **self._initial_tags}

    def _request_with_tags(self, tags: Mapping[str, str]) -> dict[str, Any]:
        rendered = dict(self._request)
        if tags:
            rendered["Tags"] = [{"Key": key, "Value": tags[key]} for key in sorted(tags)]
        return rendered


def _stack_tags(stack: Stack) -> dict[str, str]:
    """The stack's own tags (``Stack(tags=...)``), read once per stack."""
    return per_object(stack, "stack tags", lambda: dict(stack.tags.tag_values()))
