module crigate.local/http-echo

go 1.22
