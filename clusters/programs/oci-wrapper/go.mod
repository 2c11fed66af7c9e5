module crigate.local/oci-wrapper

go 1.22
