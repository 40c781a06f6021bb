from datetime import timedelta

import factory
from django.utils import timezone

from escalations.choices import CounterpartFunction
from escalations.models import Counterpart, RoutingRule, Silence


class CounterpartFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Counterpart
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Counterpart {n}")
    function = CounterpartFunction.PLATFORM
    email = factory.Sequence(lambda n: f"counterpart-{n}@example.com")


class RoutingRuleFactory(factory.django.DjangoModelFactory):
    """A rule; pass ``counterparts=[...]`` to route to them."""

    class Meta:
        model = RoutingRule
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Rule {n}")
    order = 10

    @factory.post_generation
    def counterparts(self, create, extracted, **kwargs):
        if create and extracted:
            self.counterparts.set(extracted)


class SilenceFactory(factory.django.DjangoModelFactory):
    """A one-off silence of an agent, in force from an hour ago to an hour from now."""

    class Meta:
        model = Silence

    agent = factory.SubFactory("tests.factories.trust.AgentFactory")
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    ends_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))
    reason = "Planned maintenance"
    created_by = factory.SubFactory("tests.factories.trust.UserFactory")
