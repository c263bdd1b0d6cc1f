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
                "rules": {
                    "any": [
                        {
                            "attribute": "industry",
                            "operator": "in",
                            "value": {"param": "target_industries"},
                        },
                        {
                            "attribute": "headline",
                            "operator": "contains_any",
                            "value": {"param": "target_keywords"},
                        },
                        {
                            "attribute": "current_title",
                            "operator": "contains_any",
                            "value": {"param": "target_keywords"},
                        },
                    ]
                },
            },
            {
                "key": "interaction",
                "label": "Interaction",
                "question": "Est-il susceptible d'interagir sur mes publications futures ?",
                "description": "The person is likely to react to or comment on my future posts.",
                "rules": {
                    "any": [
                        {
                            "attribute": "mutual_connections",
                            "operator": "gte",
                            "value": {"param": "min_mutual_connections"},
                        },
                        {
                            "attribute": "has_message",
                            "operator": "eq",
                            "value": True,
                            "reason": "the invitation came with a note",
                        },
                        {
                            "attribute": "engaged_with_my_posts",
                            "operator": "eq",
                            "value": True,
                            "reason": "they already react to my posts",
                        },
                        {
                            "attribute": "met_in_person",
                            "operator": "eq",
                            "value": True,
                            "reason": "we have met in person",
                        },
                    ]
                },
            },
            {
                "key": "prescription",
                "label": "Prescription",
                "question": "Pourrait-il devenir prescripteur ou me recommander ?",
                "description": "The person could recommend me or send work my way.",
                "rules": {
                    "any": [
                        {
                            "attribute": "followers",
                            "operator": "gte",
                            "value": {"param": "min_followers"},
                        },
                        {
                            "attribute": "headline",
                            "operator": "contains_any",
                            "value": {"param": "decision_maker_titles"},
                        },
                        {
                            "attribute": "current_title",
                            "operator": "contains_any",
                            "value": {"param": "decision_maker_titles"},
                        },
                    ]
                },
            },
            {
                "key": "utilite",
                "label": "Utilité",
                "question": "M'est-il utile à court ou long terme ?",
                "description": "The connection is useful to me, in the short or the long term.",
                "rules": {
                    "any": [
                        {
                            "attribute": "company",
                            "operator": "in",
                            "value": {"param": "target_companies"},
                        },
                        {
                            "attribute": "location",
                            "operator": "contains_any",
                            "value": {"param": "target_regions"},
                        },
                    ]
                },
            },
        ],
        "policy": {"mode": "count", "accept_at": 2},
        # Starting points: retune them with PUT /criteria/pipu, the rules stay as they are.
        "params": {
            "target_industries": [
                "Software Development",
                "IT Services and IT Consulting",
                "Marketing Services",
                "Business Consulting and Services",
                "Human Resources Services",
            ],
            "target_keywords": [
                "marketing",
                "growth",
                "digital",
                "sales",
                "consultant",
                "freelance",
                "entrepreneur",
                "entrepreneuse",
                "recrutement",
                "recruiter",
            ],
            "min_mutual_connections": 5,
            "min_followers": 1000,
            "decision_maker_titles": [
                "CEO",
                "founder",
                "co-founder",
                "fondateur",
                "fondatrice",
                "directeur",
                "directrice",
                "head of",
                "partner",
                "associé",
                "associée",
            ],
            "target_companies": [],
            "target_regions": ["Paris", "Île-de-France", "Lyon", "Bordeaux", "Nantes"],
        },
    }
)
