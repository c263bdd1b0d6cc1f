"""The PIPU method, created as the default criteria set on first start."""

from app.criteria.models import CriteriaSetCreate

PIPU = CriteriaSetCreate.model_validate(
    {
        "slug": "pipu",
        "name": "PIPU",
        "description": (
            "A reflex method for connection invitations: accept a profile that is Pertinent, "
            "likely to Interact with my posts, a potential Prescriber, or Useful to me, "
            "when at least two of the four hold."
        ),
        "locale": "fr",
        "criteria": [
            {
                "key": "pertinence",
                "label": "Pertinence",
                "question": "Ce profil est-il pertinent ?",
                "description": "The profile is relevant to my field, my targets or my goals.",
            },
            {
                "key": "interaction",
                "label": "Interaction",
                "question": "Est-il susceptible d'interagir sur mes publications futures ?",
                "description": "The person is likely to react to or comment on my future posts.",
            },
            {
                "key": "prescription",
                "label": "Prescription",
                "question": "Pourrait-il devenir prescripteur ou me recommander ?",
                "description": "The person could recommend me or send work my way.",
            },
            {
                "key": "utilite",
                "label": "Utilité",
                "question": "M'est-il utile à court ou long terme ?",
                "description": "The connection is useful to me, in the short or the long term.",
            },
        ],
        "policy": {"mode": "count", "accept_at": 2},
    }
)
