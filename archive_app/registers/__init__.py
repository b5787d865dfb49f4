"""Registers in (登记表导入): customer lists, visitor-card and closed-deal registers from XLSX/CSV."""
