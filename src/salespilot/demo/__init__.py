"""A realistic demo company (a B2B SaaS seller) as canonical tables, for trying SalesPilot."""

from salespilot.demo.generator import DEFAULT_TODAY, SIZES, SizeConfig, generate

__all__ = ["DEFAULT_TODAY", "SIZES", "SizeConfig", "generate"]
