from __future__ import annotations

import factory
from allauth.account.models import EmailAddress

from accounts.models import User
from accounts.roles import approve_clinician, make_reviewer
from accounts.verification import mark_email_verified

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj: User, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            obj.save()

    @factory.post_generation
    def verified(obj: User, create: bool, extracted: object, **kwargs: object) -> None:
        """Signed-up people have confirmed their address (verification is mandatory);
        `UserFactory(verified=False)` for one whose confirmation mail never arrived."""
        if not create:
            return
        if extracted is False:
            EmailAddress.objects.get_or_create(
                user=obj, email=obj.email, defaults={"verified": False, "primary": True}
            )
        else:
            mark_email_verified(obj)


def make_clinician(**kwargs: object) -> User:
    user = UserFactory.create(**kwargs)
    approve_clinician(user)
    return User.objects.get(pk=user.pk)  # fresh object: permission caches are per instance


def make_reviewer_user(**kwargs: object) -> User:
    user = UserFactory.create(**kwargs)
    make_reviewer(user)
    return User.objects.get(pk=user.pk)
