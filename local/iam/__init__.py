"""Each function's deployed IAM permissions, enforced in the local stack: ``gen`` writes them from
template.yaml (policies.json), ``enforce`` checks every AWS call a function makes against them."""
