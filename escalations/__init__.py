"""escalations: signals become incidents on one severity ladder and end in decisions."""
